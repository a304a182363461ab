-- wrk script of the soak: POSTs the body in $SOAK_BODY with $SOAK_CONTENT_TYPE, counts every
-- answer that is not 2xx (and the first such status) and every 2xx whose body differs from
-- the file $SOAK_EXPECTED, and prints one RESULT line of JSON with the request count, wrk's
-- socket errors and the latency percentiles in microseconds.
local f = assert(io.open(os.getenv("SOAK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("SOAK_CONTENT_TYPE")
local g = assert(io.open(os.getenv("SOAK_EXPECTED"), "rb"))
local expected = g:read("*a")
g:close()

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  first_bad = 0
  wrong = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == 0 then first_bad = status end
  elseif body ~= expected then
    wrong = wrong + 1
  end
end

function done(summary, latency, requests)
  local bad, first, mismatched = 0, 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    mismatched = mismatched + thread:get("wrong")
    if first == 0 then first = thread:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "first_bad_status": %d, "wrong_body": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "p50": %d, "p90": %d, ' ..
    '"p99": %d, "p999": %d, "max": %d}\n',
    summary.requests, summary.duration, bad, first, mismatched, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
