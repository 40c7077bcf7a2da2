-- Steps for headless Neovim tests: each step is polled (every 10 ms, between keystrokes and
-- LSP messages) until it returns true; results go to a JSON file the pytest side reads.
local H = {}

H.steps = {}
H.result = { ok = false, log = {} }
H.result_path = nil

--- Add a step. `fn` returns true when done; a false/nil return means poll again.
function H.step(name, fn)
  H.steps[#H.steps + 1] = { name = name, fn = fn }
end

function H.note(key, value)
  H.result[key] = value
end

function H.log(fmt, ...)
  H.result.log[#H.result.log + 1] = string.format(fmt, ...)
end

local function write()
  local f = assert(io.open(H.result_path, 'w'))
  f:write(vim.json.encode(H.result))
  f:close()
end

local finished = false
local function finish()
  if finished then
    return
  end
  finished = true
  H.result.plugin_log = require('hearth.log').lines()
  pcall(write)
  vim.cmd('qa!')
end

function H.fail(msg)
  H.result.ok = false
  H.result.error = msg
  finish()
end

--- Type `keys` as if by the user ("t": typed, so mappings and insert-mode events apply).
function H.type(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), 't', false)
end

function H.run(step_timeout_ms)
  local i, started = 1, vim.uv.now()
  local timer = vim.uv.new_timer()
  local busy = false -- a step that waits (vim.wait, request_sync) must not be re-entered
  timer:start(10, 10, vim.schedule_wrap(function()
    if finished then
      timer:stop()
      return
    end
    if busy then
      return
    end
    local step = H.steps[i]
    if not step then
      timer:stop()
      H.result.ok = true
      finish()
      return
    end
    busy = true
    local ok, done = pcall(step.fn)
    busy = false
    if not ok then
      timer:stop()
      H.fail(('step %d (%s) raised: %s'):format(i, step.name, tostring(done)))
    elseif done then
      H.log('%d ms: %s', vim.uv.now() - started, step.name)
      i, started = i + 1, vim.uv.now()
    elseif vim.uv.now() - started > step_timeout_ms then
      timer:stop()
      H.fail(('step %d (%s) timed out after %d ms'):format(i, step.name, step_timeout_ms))
    end
  end))
end

--- Step helper: wait until the Hearth client is attached to the current buffer.
function H.wait_attached()
  H.step('attached', function()
    return require('hearth.server').client(0) ~= nil and require('hearth.server').client(0).initialized ~= false
  end)
end

--- Lines of the current buffer as one string.
function H.text()
  return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
end

return H
