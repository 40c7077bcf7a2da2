-- A keystroke while a request is in flight cancels it ($/cancelRequest), its late answer is
-- dropped, and the suggestion that shows belongs to the newest cursor position.
local H = require('hearth_test.harness')
local C = require('hearth_test.common')
local server = require('hearth.server')
local ghost = require('hearth.ghost')

C.wait_ready()
local first_id
local cancels = {}
local real_request, real_cancel = server.request, server.cancel
server.request = function(client, method, params, handler, bufnr)
  local ok, id = real_request(client, method, params, handler, bufnr)
  if method == 'textDocument/inlineCompletion' and not first_id then
    first_id = id
    H.note('first_col', params.position.character)
    -- The next keystroke arrives before this request's answer can be read.
    H.type('x')
  end
  return ok, id
end
server.cancel = function(client, id)
  cancels[#cancels + 1] = id
  return real_cancel(client, id)
end
C.type_at_end(vim.env.HEARTH_TEST_TYPE or '    result = ')
H.step('suggestion after the second keystroke', function()
  if not ghost.visible() then
    return false
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  H.note('line', vim.api.nvim_get_current_line())
  H.note('cursor_col', col)
  H.note('first_cancelled', vim.tbl_contains(cancels, first_id))
  H.note('stats', ghost.stats)
  return true
end)
