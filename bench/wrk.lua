-- wrk script of bench/run.py. The runner prepends `bodies` (request bodies, one picked at
-- random per request) and `headers`. A response is an error unless its status is 200 and
-- its body carries neither a GraphQL error nor a user error ("errors" or "code" keys).

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(id * 7919)
  bad_status = 0
  bad_body = 0
  sample = ""
end

function request()
  return wrk.format("POST", nil, headers, bodies[math.random(#bodies)])
end

function response(status, _, body)
  if status ~= 200 then
    bad_status = bad_status + 1
    if sample == "" then sample = status .. " " .. string.sub(body, 1, 300) end
  elseif string.find(body, '"errors"', 1, true) or string.find(body, '"code"', 1, true) then
    bad_body = bad_body + 1
    if sample == "" then sample = string.sub(body, 1, 300) end
  end
end

function done(summary, latency, requests)
  local status, body, sample_out = 0, 0, ""
  for _, thread in ipairs(threads) do
    status = status + thread:get("bad_status")
    body = body + thread:get("bad_body")
    local s = thread:get("sample")
    if sample_out == "" and s ~= "" then sample_out = s end
  end
  sample_out = string.gsub(sample_out, '[%c"\\]', " ")
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d,'
      .. ' "max_us": %d, "mean_us": %.1f, "connect": %d, "read": %d, "write": %d,'
      .. ' "timeout": %d, "bad_status": %d, "bad_body": %d, "sample": "%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
    e.timeout, status, body, sample_out))
end
