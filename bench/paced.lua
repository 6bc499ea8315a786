-- A held rate with spread arrivals (issue 13), for bench/run.py's `paced`: each of wrk's connections waits an
-- exponentially distributed time (mean PACE_MEAN_MS) before each request, so that the connections' requests
-- arrive independently, near enough to a Poisson stream, instead of all at once as hey's workers' tickers fire.
-- wrk's timers count whole milliseconds and fire together when due, so at a mean wait of a few milliseconds
-- requests still leave in small groups, one group per millisecond at most.
-- wrk's -H flags add the credential; PACE_BODY, when set, makes the request a JSON POST.
local mean_ms = tonumber(os.getenv("PACE_MEAN_MS"))
local body = os.getenv("PACE_BODY")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

function init(args)
  -- One seed per wrk thread (bench/run.py runs one): the connections share its sequence.
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function delay()
  -- Whole milliseconds, rounded up or down at random in proportion: the mean wait stays the one asked for.
  local wait = -math.log(1 - math.random()) * mean_ms
  return math.floor(wait + math.random())
end
