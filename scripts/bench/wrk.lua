-- Requests for scripts/bench.sh. BENCH_SCENARIO picks them; every request
-- carries a session cookie from a pool of BENCH_SESSIONS and that
-- session's user, the next session of the pool on each request (wrk -t1:
-- one thread, one counter), or, with BENCH_PER_CONN=1 and one connection
-- per thread (wrk -tN -cN), one session per connection, as browsers send
-- them (not for new_id, whose IDs would pile up in N sessions):
--   tracked   GET /page: a live session, no entry ID
--   known_id  GET /page, webappIdentifier: an ID the session already holds
--   new_id    GET /page, webappIdentifier: an ID new to its session
--   body_id   GET /idpage?n=S: the session's own ID in the response body
--   asset     GET /asset.js: a 256 KiB static script (not in bench.sh's
--             default scenarios; BENCH_SCENARIOS=asset runs it)
--   asset_generated  the same script without Last-Modified, as a page
--             generates it: scanned (BENCH_SCENARIOS=asset_generated)
-- Session S is JSESSIONID=<BENCH_PREFIX>S with user u<S mod 100> and ID S,
-- as cmd/benchsessions creates it.
local scenario = os.getenv("BENCH_SCENARIO") or "tracked"
local sessions = tonumber(os.getenv("BENCH_SESSIONS") or "1000")
local prefix = os.getenv("BENCH_PREFIX") or "bench-"
local newBase = tonumber(os.getenv("BENCH_NEW_BASE") or "100000000")
local perConn = os.getenv("BENCH_PER_CONN") == "1" and scenario ~= "new_id"
local i = 0

-- setup runs in the main Lua state once per thread; conn becomes a
-- global of that thread's own state.
local threads = 0
setup = function(thread)
  thread:set("conn", threads)
  threads = threads + 1
end

local function id(n)
  return "webform@@@Bench/form_orders(1)_app@@@" .. string.format("%d", n) .. ".xml"
end

request = function()
  i = i + 1
  local s = i % sessions
  if perConn and conn then
    s = conn % sessions
  end
  local headers = {
    ["Cookie"] = "JSESSIONID=" .. prefix .. s,
    ["user"] = "u" .. (s % 100),
  }
  if scenario == "known_id" then
    headers["webappIdentifier"] = id(s)
  elseif scenario == "new_id" then
    headers["webappIdentifier"] = id(newBase + i)
  elseif scenario == "body_id" then
    return wrk.format("GET", "/idpage?n=" .. s, headers)
  elseif scenario == "asset" then
    return wrk.format("GET", "/asset.js", headers)
  elseif scenario == "asset_generated" then
    return wrk.format("GET", "/asset.js?generated=1", headers)
  end
  return wrk.format("GET", "/page", headers)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
