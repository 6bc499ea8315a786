-- Mixed load for `bench/run.py --load`: 80% share lookups by externalId, 10% reads by id, 10% creates.
-- Any non-2xx answer is counted by wrk and fails the run.
local counter = 0
local key = os.getenv("KEYWAY_BENCH_KEY")
local shares = tonumber(os.getenv("KEYWAY_BENCH_SHARES"))
local lock = os.getenv("KEYWAY_BENCH_LOCK")

request = function()
  counter = counter + 1
  local n = math.random(1, math.min(shares, 10000))  -- organization 1000, the bench key's
  local roll = math.random(1, 10)
  local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  if roll == 1 then
    local body = '{"organizationId": 1000, "source": {"deviceId": ' .. lock .. '}, "receiver": {"userId": 1000000}, "externalId": "load-' .. counter .. '"}'
    return wrk.format("POST", "/v2/shares", headers, body)
  elseif roll == 2 then
    return wrk.format("GET", "/v2/shares/" .. math.random(1, math.min(shares, 10000)), headers)
  else
    return wrk.format("GET", "/v2/shares?externalId=booking-" .. n, headers)
  end
end
