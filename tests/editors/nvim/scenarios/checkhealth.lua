-- :checkhealth hearth reports on Neovim, the server, the model and the index.
local H = require('hearth_test.harness')
local C = require('hearth_test.common')

C.wait_ready()
H.step('checkhealth', function()
  vim.cmd('checkhealth hearth')
  H.note('report', table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n'))
  return true
end)
