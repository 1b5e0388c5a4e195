-- Shared by the wrk scripts: read a file of user ids (one per line) and report a JSON summary line.
local M = {}

function M.read_ids(path)
  local ids = {}
  local fh = assert(io.open(path, "r"), "cannot open user id file " .. tostring(path))
  for line in fh:lines() do
    if #line > 0 then ids[#ids + 1] = line end
  end
  fh:close()
  assert(#ids > 0, "no user ids in " .. path)
  return ids
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"socket_errors":%d,"non2xx":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max))
end

return M
