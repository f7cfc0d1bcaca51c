-- Single-row writes for xtask/bench/writes.sh. Environment:
--   WRITE_KIND  post | patch | put | delete
--   WRITE_PEER  tenantapi | platformatic (URL and body shapes)
--   WRITE_FIRST, WRITE_COUNT  for patch, put and delete: the ids first .. first+count-1, which
--               the threads share out (thread n takes every n-th), each id once for delete
--   WRITE_THREADS  wrk's -t (2)
-- Prints the RESULT line of ../shared/peers/wrk_report.lua.
local kind = os.getenv("WRITE_KIND") or "post"
local peer = os.getenv("WRITE_PEER") or "tenantapi"
local first = tonumber(os.getenv("WRITE_FIRST") or "1")
local count = tonumber(os.getenv("WRITE_COUNT") or "10000")
local stride = tonumber(os.getenv("WRITE_THREADS") or "2")
local thread_count = 0

-- Runs in the main state once per thread, before the threads start.
setup = function(thread)
  thread:set("number", thread_count)
  thread_count = thread_count + 1
end

init = function(args)
  sent = 0
  run = tostring(os.time())
end

local function item_path(id)
  if peer == "platformatic" then return "/dataPoint/" .. id end
  return "/api/v1/prj_1/data_point/" .. id .. "/"
end

local function list_path()
  if peer == "platformatic" then return "/dataPoint/" end
  return "/api/v1/prj_1/data_point/"
end

local json = { ["Content-Type"] = "application/json" }

request = function()
  local n = sent
  sent = sent + 1
  local id = first + ((n * stride + number) % count)
  if kind == "post" then
    local body = string.format('{"name": "w-%s-%d-%d", "unit": "kWh"}', run, number, n)
    return wrk.format("POST", list_path(), json, body)
  elseif kind == "patch" and peer ~= "platformatic" then
    return wrk.format("PATCH", item_path(id), json, '{"unit": "MWh"}')
  elseif kind == "put" or kind == "patch" then
    -- Platformatic has no PATCH: its PUT takes the full row, as DRF's PUT does.
    local body = string.format('{"name": "dp-%05d", "unit": "MWh"}', id)
    if peer == "platformatic" then
      body = string.format('{"id": %d, "name": "dp-%05d", "unit": "MWh"}', id, id)
    end
    return wrk.format("PUT", item_path(id), json, body)
  else
    return wrk.format("DELETE", item_path(id), nil, nil)
  end
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local function ms(p) return latency:percentile(p) / 1000.0 end
  io.write(string.format(
    "RESULT rps=%.1f requests=%d duration_s=%.2f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f mean_ms=%.2f "
    .. "err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx3xx=%d\n",
    summary.requests / secs, summary.requests, secs,
    ms(50), ms(90), ms(99), ms(99.9), latency.max / 1000.0, latency.mean / 1000.0,
    e.connect, e.read, e.write, e.timeout, e.status))
end
