-- :HearthExplain on a range opens a markdown window and fills it while the model writes.
local H = require('hearth_test.harness')
local C = require('hearth_test.common')

C.capture_notify()
C.wait_ready()
local updates = 0
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(args)
    local p = args.data and args.data.params
    if p and type(p.token) == 'string' and p.token:match('^hearth%-hearth%.explain') then
      updates = updates + 1
    end
  end,
})
local source_win
H.step('explain', function()
  source_win = vim.api.nvim_get_current_win()
  vim.cmd('1,4HearthExplain')
  return true
end)
H.step('window filled', function()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local buf = vim.api.nvim_win_get_buf(win)
    if win ~= source_win and vim.bo[buf].filetype == 'markdown' then
      local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
      if text ~= '' and not require('hearth.server').client(buf) then
        H.note('window_text', text)
        H.note('float', vim.api.nvim_win_get_config(win).relative ~= '')
        H.note('buf_name', vim.api.nvim_buf_get_name(buf))
        return true
      end
    end
  end
  if H.result.notify and #H.result.notify > 0 then
    error('explain failed: ' .. vim.inspect(H.result.notify))
  end
  return false
end)
-- The final answer replaces the streamed text; wait for the request to finish.
H.step('request done', function()
  local client = require('hearth.server').client(vim.fn.bufnr(vim.env.HEARTH_TEST_FILE))
  for _, req in pairs(client and client.requests or {}) do
    if req.type == 'pending' then
      return false
    end
  end
  H.note('progress_updates', updates)
  return true
end)
