--- Scratch windows for Explain, :HearthStatus and :HearthLog: a float or a split holding a
--- nofile buffer; `q` closes it.
local M = {}

---@param opts { title: string, filetype?: string, kind?: 'float'|'split', lines?: string[] }
---@return integer bufnr, integer winid
function M.open(opts)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = opts.filetype or 'markdown'
  pcall(vim.api.nvim_buf_set_name, buf, ('hearth://%s/%d'):format(opts.title:lower():gsub('%s+', '-'), buf))
  if opts.lines then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, opts.lines)
  end
  local win
  if (opts.kind or 'float') == 'float' then
    local width = math.max(40, math.min(100, math.floor(vim.o.columns * 0.8)))
    local height = math.max(5, math.min(30, math.floor((vim.o.lines - 2) * 0.7)))
    local float = {
      relative = 'editor',
      width = width,
      height = height,
      row = math.floor((vim.o.lines - height) / 2) - 1,
      col = math.floor((vim.o.columns - width) / 2),
      style = 'minimal',
      border = 'rounded',
    }
    if vim.fn.has('nvim-0.9') == 1 then
      float.title = ' ' .. opts.title .. ' '
    end
    win = vim.api.nvim_open_win(buf, true, float)
  else
    vim.cmd('botright split')
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
    vim.api.nvim_win_set_height(win, math.max(8, math.floor(vim.o.lines * 0.35)))
  end
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true, desc = 'Close' })
  return buf, win
end

--- Replace the text of `buf` (if it still exists) with `text`.
function M.set_text(buf, text)
  if vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, vim.split(text, '\n', { plain = true }))
  end
end

return M
