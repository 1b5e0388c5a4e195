-- GET recommendations for the users in an id file, picked at random: users with a cached list load the hot path,
-- users without one load live generation (popularity once it is saturated).
--   wrk -t2 -c64 -d15s -s loadtest/users.lua http://127.0.0.1:8000 -- users_cached.txt [k]
--   wrk -t1 -c4 -d15s -s loadtest/users.lua http://127.0.0.1:8000 -- users_uncached.txt [k]
package.path = "loadtest/?.lua;" .. package.path
local common = require("common")
local ids, k

function init(args)
  ids = common.read_ids(args[1])
  k = args[2] or "10"
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  return wrk.format("GET", "/users/" .. ids[math.random(#ids)] .. "/recommendations?k=" .. k)
end

done = common.done
