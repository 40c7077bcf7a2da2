-- Neovim 0.12+: the plugin turns on vim.lsp.inline_completion; a suggestion shows as its
-- extmark after typing, and require('hearth').accept() puts it in the buffer.
local H = require('hearth_test.harness')
local C = require('hearth_test.common')

C.wait_ready()
H.step('native mode', function()
  H.note('mode', require('hearth').mode())
  H.note('enabled', vim.lsp.inline_completion.is_enabled())
  return true
end)
C.type_at_end(vim.env.HEARTH_TEST_TYPE or '    result = ')
local before
H.step('native suggestion shows', function()
  local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
  if not ns then
    return false
  end
  local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
  if #marks == 0 then
    return false
  end
  local d = marks[1][4]
  local shown = d.virt_text and d.virt_text[1] and d.virt_text[1][1] or ''
  local lines = {}
  for _, l in ipairs(d.virt_lines or {}) do
    lines[#lines + 1] = l[1] and l[1][1] or ''
  end
  if shown == '' and #lines == 0 then
    return false
  end
  H.note('shown', shown)
  H.note('shown_lines', lines)
  H.note('visible', require('hearth').visible())
  before = H.text()
  H.note('before', before)
  H.note('accept_returned', require('hearth').accept())
  return true
end)
H.step('accepted', function()
  if H.text() == before then
    return false
  end
  H.note('after', H.text())
  return true
end)
