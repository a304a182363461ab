# tandem_result: Result<T, E> alone (header-only, no Boost), for the modules that do not speak
# HTTP (transform, the built-in stages). Included by proto/CMakeLists.txt and by the fuzz
# build, which builds transform without proto.
add_library(tandem_result INTERFACE)
target_include_directories(tandem_result INTERFACE ${CMAKE_CURRENT_LIST_DIR}/include)
target_compile_features(tandem_result INTERFACE cxx_std_20)
