-- Steps shared by the scenarios: wait for the server and its model, type, wait for ghost text.
local H = require('hearth_test.harness')
local C = {}

--- Capture vim.notify messages (review summaries, errors) into the result.
function C.capture_notify()
  H.result.notify = {}
  vim.notify = function(msg, level)
    table.insert(H.result.notify, { msg = msg, level = level })
  end
end

--- Wait until the server is attached and says its model is ready.
function C.wait_ready()
  H.wait_attached()
  H.step('model ready', function()
    local status = require('hearth').server_status(1000)
    if not status then
      return false
    end
    H.note('status', status)
    local model = status.model
    if type(model) ~= 'table' then
      return true -- a server without model state: nothing to wait for
    end
    if model.state == 'error' then
      error('model failed to load: ' .. tostring(model.message))
    end
    if model.state == 'off' then
      -- Loading starts lazily on the first request on some servers: ask once.
      return true
    end
    return model.state == 'ready'
  end)
end

--- Open a new line below the last one and type `text` there.
function C.type_at_end(text)
  H.step('type', function()
    H.type('Go' .. text)
    return true
  end)
end

--- Wait until the plugin shows a suggestion; notes it as `key`.
function C.wait_suggestion(key)
  H.step('suggestion shows', function()
    if vim.api.nvim_get_mode().mode ~= 'i' then
      return false
    end
    if require('hearth').visible() then
      H.note(key, require('hearth.ghost').current_text())
      return true
    end
    return false
  end)
end

--- Text with `insert` put at the cursor (what accepting should produce).
function C.expected_after_insert(insert)
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local line = lines[row]
  lines[row] = line:sub(1, col) .. insert .. line:sub(col + 1)
  return table.concat(lines, '\n')
end

return C
