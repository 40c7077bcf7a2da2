-- 0.10/0.11 ghost text: a suggestion shows after typing in insert mode, as extmarks (inline
-- virtual text + virtual lines), and accepting it inserts exactly that text at the cursor.
local H = require('hearth_test.harness')
local C = require('hearth_test.common')

C.wait_ready()
C.type_at_end(vim.env.HEARTH_TEST_TYPE or '    result = ')
C.wait_suggestion('ghost')
local expected
H.step('extmark and accept', function()
  local ns = vim.api.nvim_get_namespaces()['hearth.ghost']
  local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
  H.note('marks', #marks)
  local d = marks[1] and marks[1][4] or {}
  H.note('virt_text_pos', d.virt_text_pos)
  H.note('virt_text', d.virt_text and d.virt_text[1] and d.virt_text[1][1] or '')
  local virt_lines = {}
  for _, l in ipairs(d.virt_lines or {}) do
    virt_lines[#virt_lines + 1] = l[1] and l[1][1] or ''
  end
  H.note('virt_lines', virt_lines)
  H.note('before', H.text())
  expected = C.expected_after_insert(H.result.ghost)
  H.note('expected', expected)
  H.note('accept_returned', require('hearth').accept())
  return true
end)
H.step('buffer changed', function()
  if H.text() == H.result.before then
    return false
  end
  H.note('after', H.text())
  H.note('visible_after', require('hearth').visible())
  H.note('mode_after', vim.api.nvim_get_mode().mode)
  return true
end)
