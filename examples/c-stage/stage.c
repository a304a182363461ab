/* A tandem stage in C on the stage SDK's C ABI (docs/stages.md, "The C ABI"): answers its
 * input upper-cased (or as it came, with EXAMPLE_C_ECHO set) with the request's content type. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tandem_stage.h>

static void handle(void* user_data, const tandem_stage_request* request,
                   tandem_stage_response* response) {
  const int echo = *(const int*)user_data;
  char* body = malloc(request->body.size + 1);
  char* content_type = malloc(request->content_type.size + 1); /* respond wants a C string */
  if (body != NULL && content_type != NULL) {                  /* else no answer: a 500 */
    for (size_t i = 0; i < request->body.size; ++i) {
      const unsigned char c = (unsigned char)request->body.data[i];
      body[i] = (char)(echo ? c : toupper(c));
    }
    if (request->content_type.size > 0)
      memcpy(content_type, request->content_type.data, request->content_type.size);
    content_type[request->content_type.size] = '\0';
    tandem_stage_respond(response, 200, content_type[0] ? content_type : NULL, body,
                         request->body.size, NULL);
  }
  free(body);
  free(content_type);
}

int main(void) {
  static int echo;
  echo = getenv("EXAMPLE_C_ECHO") != NULL;
  char error[512];
  tandem_stage_server* server =
      tandem_stage_server_new(handle, NULL, &echo, 0, 0, error, sizeof error);
  if (server == NULL) {
    fprintf(stderr, "c-stage: %s\n", error);
    return 1;
  }
  const int status = tandem_stage_server_run(server); /* until SIGTERM, then drains */
  if (status == 0) tandem_stage_server_free(server);
  return status;
}
