-- A mix: a share of requests for uncached users (default 5%), the rest for cached ones; 1% also post an event.
--   wrk -t2 -c32 -d15s -s loadtest/mix.lua http://127.0.0.1:8000 -- users_cached.txt users_uncached.txt 0.05 items.txt
-- Writes carry the key in GENREC_LOADTEST_API_KEY (X-API-Key) when set: a service with GENREC_API_KEYS needs one.
package.path = "loadtest/?.lua;" .. package.path
local common = require("common")
local cached, uncached, share, items
local write_headers = {["Content-Type"] = "application/json"}
local key = os.getenv("GENREC_LOADTEST_API_KEY")
if key and key ~= "" then write_headers["X-API-Key"] = key end

function init(args)
  cached = common.read_ids(args[1])
  uncached = common.read_ids(args[2])
  share = tonumber(args[3] or "0.05")
  if args[4] then items = common.read_ids(args[4]) end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local r = math.random()
  if items and r < 0.01 then
    local user = cached[math.random(#cached)]
    local body = '{"item":"' .. items[math.random(#items)] .. '"}'
    return wrk.format("POST", "/users/" .. user .. "/events", write_headers, body)
  end
  local pool = (r < share) and uncached or cached
  return wrk.format("GET", "/users/" .. pool[math.random(#pool)] .. "/recommendations?k=10")
end

done = common.done
