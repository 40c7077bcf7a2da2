--- The plugin's own ghost text, for Neovim 0.10/0.11 (no vim.lsp.inline_completion there).
---
--- Asks textDocument/inlineCompletion on InsertEnter and TextChangedI (one request in flight
--- per buffer: a newer keystroke cancels the older request), shows the first line as inline
--- virtual text at the cursor and the rest as virtual lines, and trims it locally while the
--- user types what it suggests. Accepting inserts text at the cursor.
local server = require('hearth.server')
local text = require('hearth.text')
local log = require('hearth.log')

local M = {}

local ns = vim.api.nvim_create_namespace('hearth.ghost')
local INVOKED, AUTOMATIC = 1, 2

---@class hearth.GhostState
---@field items table[] suggestions: { text, id, command, replace_end }
---@field index integer
---@field row integer 0-based row of the anchor (where the remaining text goes)
---@field col integer byte column of the anchor
---@field request_id integer|nil in-flight request
---@field client_id integer|nil
---@field timer uv.uv_timer_t|nil debounce timer
---@field tick integer|nil changedtick our own edit produced (no new request for it)
---@field seq integer request sequence number (answers to older ones are dropped)

---@type table<integer, hearth.GhostState>
local states = {}

M.opts = nil ---@type table|nil
M.stats = { requests = 0, cancelled = 0, stale = 0, shown = 0 }

local function state(bufnr)
  local s = states[bufnr]
  if not s then
    s = { items = {}, index = 1, row = 0, col = 0, seq = 0 }
    states[bufnr] = s
  end
  return s
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function clear_marks(bufnr)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

local function stop_timer(s)
  if s.timer then
    s.timer:stop()
    if not s.timer:is_closing() then
      s.timer:close()
    end
    s.timer = nil
  end
end

--- Cancel the in-flight request of `bufnr`, if any.
local function cancel(bufnr)
  local s = states[bufnr]
  if not s then
    return
  end
  stop_timer(s)
  if s.request_id and s.client_id then
    local client = vim.lsp.get_client_by_id(s.client_id)
    if client then
      server.cancel(client, s.request_id)
      M.stats.cancelled = M.stats.cancelled + 1
    end
  end
  s.request_id = nil
end

local function current_item(s)
  return s.items[s.index]
end

--- Draw the current suggestion at its anchor.
local function render(bufnr)
  clear_marks(bufnr)
  local s = states[bufnr]
  local item = s and current_item(s)
  if not item or item.text == '' then
    return
  end
  local hl = (M.opts and M.opts.suggestion.hl_group) or 'HearthSuggestion'
  local lines = vim.split(item.text, '\n', { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], hl } }
  end
  local mark = { virt_text_pos = 'inline', hl_mode = 'combine', priority = 1000 }
  if lines[1] ~= '' then
    mark.virt_text = { { lines[1], hl } }
  end
  if #virt_lines > 0 then
    mark.virt_lines = virt_lines
  end
  if #s.items > 1 and #virt_lines == 0 then
    mark.virt_text = mark.virt_text or {}
    mark.virt_text[#mark.virt_text + 1] = { (' (%d/%d)'):format(s.index, #s.items), 'NonText' }
  end
  local ok, err = pcall(vim.api.nvim_buf_set_extmark, bufnr, ns, s.row, s.col, mark)
  if not ok then
    log.add('ghost text: %s', err)
  end
end

--- Forget the suggestion of `bufnr` (and tell the server it was not taken).
---@param bufnr integer
---@param rejected boolean
local function reset(bufnr, rejected)
  local s = states[bufnr]
  if not s then
    return
  end
  local item = current_item(s)
  if rejected and item and s.client_id then
    local client = vim.lsp.get_client_by_id(s.client_id)
    if client then
      server.notify(client, 'hearth/suggestionRejected', { uri = vim.uri_from_bufnr(bufnr), id = item.id })
    end
  end
  s.items, s.index = {}, 1
  clear_marks(bufnr)
end

--- Turn an LSP item into the text still to insert at the cursor (row, col), or nil when it
--- does not fit there (stale answer, range elsewhere).
local function convert(bufnr, lsp_item, row, col, encoding)
  local insert = text.plain(lsp_item.insertText)
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local replace_end = nil
  if lsp_item.range then
    local r = lsp_item.range
    if r.start.line ~= row or r['end'].line ~= row then
      return nil
    end
    local start_col = text.byte_col(line, r.start.character, encoding)
    local end_col = text.byte_col(line, r['end'].character, encoding)
    if start_col > col then
      return nil
    end
    -- What is typed between the range start and the cursor must begin the insert text.
    local typed = line:sub(start_col + 1, col)
    if insert:sub(1, #typed) ~= typed then
      return nil
    end
    insert = insert:sub(#typed + 1)
    if end_col > col then
      replace_end = end_col
    end
  end
  if insert == '' then
    return nil
  end
  return { text = insert, id = text.item_id(lsp_item), command = lsp_item.command, replace_end = replace_end }
end

local function on_result(bufnr, seq, client, err, result, row, col)
  local s = states[bufnr]
  if not s or s.seq ~= seq then
    M.stats.stale = M.stats.stale + 1
    return
  end
  s.request_id = nil
  if err then
    if err.code ~= -32800 and err.code ~= -32801 then -- RequestCancelled, ContentModified
      log.add('inlineCompletion: %s', err.message or vim.inspect(err))
    end
    return
  end
  if vim.api.nvim_get_current_buf() ~= bufnr or not vim.api.nvim_get_mode().mode:match('^i') then
    return
  end
  local crow, ccol = cursor()
  if crow ~= row or ccol ~= col then
    M.stats.stale = M.stats.stale + 1
    return
  end
  local items = result and (result.items or result) or {}
  local converted = {}
  for _, lsp_item in ipairs(items) do
    local item = convert(bufnr, lsp_item, row, col, client.offset_encoding or 'utf-16')
    if item then
      converted[#converted + 1] = item
    end
  end
  s.items, s.index, s.row, s.col = converted, 1, row, col
  render(bufnr)
  if #converted > 0 then
    M.stats.shown = M.stats.shown + 1
    server.notify(client, 'hearth/suggestionShown', { uri = vim.uri_from_bufnr(bufnr), id = converted[1].id })
  end
end

--- Ask the server for suggestions at the cursor now (cancelling an older request).
---@param bufnr integer
---@param kind? integer trigger kind (1 invoked, 2 automatic)
function M.request(bufnr, kind)
  local client = server.client(bufnr)
  if not client then
    return
  end
  cancel(bufnr)
  local s = state(bufnr)
  s.seq = s.seq + 1
  local seq = s.seq
  local row, col = cursor()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding or 'utf-16')
  params.context = { triggerKind = kind or AUTOMATIC }
  local ok, id = server.request(client, 'textDocument/inlineCompletion', params, function(err, result)
    on_result(bufnr, seq, client, err, result, row, col)
  end, bufnr)
  if ok then
    M.stats.requests = M.stats.requests + 1
    s.request_id, s.client_id = id, client.id
  end
end

--- Schedule a request after the debounce delay.
local function schedule(bufnr)
  local s = state(bufnr)
  stop_timer(s)
  local delay = M.opts and M.opts.suggestion.debounce_ms or 0
  s.timer = vim.defer_fn(function()
    s.timer = nil
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_get_current_buf() == bufnr
      and vim.api.nvim_get_mode().mode:match('^i') then
      M.request(bufnr, AUTOMATIC)
    end
  end, delay)
end

--- After an edit: keep a suggestion the user is typing out (trimmed), else ask again.
local function on_text_changed(bufnr)
  local s = state(bufnr)
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  if s.tick == tick then
    return -- our own accept
  end
  local item = current_item(s)
  local row, col = cursor()
  if item and row == s.row and col > s.col then
    local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
    local typed = line:sub(s.col + 1, col)
    if item.text:sub(1, #typed) == typed and #typed < #item.text then
      for _, other in ipairs(s.items) do
        other.text = other.text:sub(1, #typed) == typed and other.text:sub(#typed + 1) or ''
      end
      s.col = col
      render(bufnr)
      return
    end
  end
  reset(bufnr, item ~= nil)
  schedule(bufnr)
end

--- Whether a suggestion shows in `bufnr`.
function M.visible(bufnr)
  local s = states[bufnr or vim.api.nvim_get_current_buf()]
  local item = s and current_item(s)
  return item ~= nil and item.text ~= ''
end

--- The suggestion text still to insert (for tests and statuslines).
function M.current_text(bufnr)
  local s = states[bufnr or vim.api.nvim_get_current_buf()]
  local item = s and current_item(s)
  return item and item.text or nil
end

--- Insert `part` of the current suggestion at the cursor; the rest stays shown.
local function insert(bufnr, part)
  local s = states[bufnr]
  local item = current_item(s)
  local row, col = cursor()
  if row ~= s.row or col ~= s.col then
    reset(bufnr, false)
    return false
  end
  local lines = vim.split(part, '\n', { plain = true })
  local whole = part == item.text
  local end_col = col
  if whole and item.replace_end then
    end_col = item.replace_end
  end
  vim.api.nvim_buf_set_text(bufnr, row, col, row, end_col, lines)
  local new_row = row + #lines - 1
  local new_col = (#lines == 1 and col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { new_row + 1, new_col })
  s.tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local client = s.client_id and vim.lsp.get_client_by_id(s.client_id)
  if whole then
    s.items, s.index = {}, 1
    clear_marks(bufnr)
    if client then
      -- The item's command is the server's own "accepted" signal; without one, notify.
      local provider = client.server_capabilities.executeCommandProvider
      local commands = type(provider) == 'table' and provider.commands or {}
      if item.command and vim.tbl_contains(commands, item.command.command) then
        server.request(client, 'workspace/executeCommand', item.command, function() end, bufnr)
      else
        server.notify(client, 'hearth/suggestionAccepted', { uri = vim.uri_from_bufnr(bufnr), id = item.id })
      end
    end
  else
    item.text = item.text:sub(#part + 1)
    s.items, s.index = { item }, 1
    s.row, s.col = new_row, new_col
    render(bufnr)
    if client then
      server.notify(client, 'hearth/suggestionAccepted', {
        uri = vim.uri_from_bufnr(bufnr),
        id = item.id,
        acceptedLength = vim.fn.strchars(part),
      })
    end
  end
  return true
end

---@param how 'all'|'word'|'line'
---@return boolean accepted
function M.accept(how)
  local bufnr = vim.api.nvim_get_current_buf()
  if not M.visible(bufnr) then
    return false
  end
  local remaining = current_item(states[bufnr]).text
  local part = remaining
  if how == 'word' then
    part = text.next_word(remaining)
  elseif how == 'line' then
    part = text.next_line(remaining)
  end
  if part == '' then
    return false
  end
  return insert(bufnr, part)
end

---@return boolean dismissed
function M.dismiss()
  local bufnr = vim.api.nvim_get_current_buf()
  local shown = M.visible(bufnr)
  cancel(bufnr)
  reset(bufnr, shown)
  return shown
end

--- Show the next (`step` = 1) or previous (-1) candidate; asks with "invoked" when none shows.
function M.cycle(step)
  local bufnr = vim.api.nvim_get_current_buf()
  local s = states[bufnr]
  if not s or #s.items == 0 then
    M.request(bufnr, INVOKED)
    return
  end
  s.index = (s.index - 1 + step) % #s.items + 1
  render(bufnr)
end

local group = nil

--- Start watching insert mode in every buffer Hearth is attached to.
---@param opts table
function M.enable(opts)
  M.opts = opts
  group = vim.api.nvim_create_augroup('hearth.ghost', { clear = true })
  vim.api.nvim_create_autocmd('InsertEnter', {
    group = group,
    callback = function(args)
      if server.client(args.buf) then
        schedule(args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd('TextChangedI', {
    group = group,
    callback = function(args)
      if server.client(args.buf) then
        on_text_changed(args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    callback = function(args)
      local s = states[args.buf]
      if s and #s.items > 0 then
        local row, col = cursor()
        local tick = vim.api.nvim_buf_get_changedtick(args.buf)
        if (row ~= s.row or col ~= s.col) and tick ~= s.tick and tick == s.moved_tick then
          reset(args.buf, true)
        end
        s.moved_tick = tick
      end
    end,
  })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    callback = function(args)
      if states[args.buf] then
        cancel(args.buf)
        reset(args.buf, M.visible(args.buf))
      end
    end,
  })
  vim.api.nvim_create_autocmd('BufUnload', {
    group = group,
    callback = function(args)
      cancel(args.buf)
      states[args.buf] = nil
    end,
  })
end

function M.disable()
  if group then
    pcall(vim.api.nvim_del_augroup_by_id, group)
    group = nil
  end
  for bufnr in pairs(states) do
    cancel(bufnr)
    reset(bufnr, false)
  end
end

return M
