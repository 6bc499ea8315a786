-- A held rate with spread arrivals (issue 13), for bench/run.py's `paced`: each of wrk's connections waits an
-- exponentially distributed time (mean PACE_MEAN_MS) before each request, so that the connections' requests
-- arrive independently, as a Poisson stream does, instead of all at once as hey's workers' tickers fire.
-- wrk's -H flags add the credential; PACE_BODY, when set, makes the request a JSON POST.
local mean_ms = tonumber(os.getenv("PACE_MEAN_MS"))
local body = os.getenv("PACE_BODY")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function init(args)
  -- Each connection's thread seeds its own sequence: the same seed would align the connections again.
  math.randomseed(os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function delay()
  -- wrk takes whole milliseconds; rounding to the nearest keeps the mean.
  return math.floor(-math.log(1 - math.random()) * mean_ms + 0.5)
end
