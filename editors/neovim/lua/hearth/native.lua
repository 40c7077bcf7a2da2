--- Neovim 0.12+'s own inline completion (vim.lsp.inline_completion), with the plugin's
--- accept/word/line/dismiss/next/prev on top of it.
local server = require('hearth.server')
local text = require('hearth.text')

local M = {}

---@return boolean
function M.available()
  local ic = vim.lsp.inline_completion
  return ic ~= nil and type(ic.enable) == 'function' and type(ic.get) == 'function'
end

local function filter()
  local client = server.clients()[1]
  return client and { client_id = client.id } or nil
end

--- Turn it on for Hearth's clients (those attached now and later).
function M.enable()
  vim.lsp.inline_completion.enable(true)
end

function M.disable()
  vim.lsp.inline_completion.enable(false)
end

function M.is_enabled()
  return vim.lsp.inline_completion.is_enabled()
end

--- The remaining text of the shown candidate: what follows the cursor.
local function remaining(item)
  local insert = text.plain(item.insert_text)
  if not item.range then
    return insert, ''
  end
  local row, col = item.range:to_extmark()
  local crow, ccol = unpack(vim.api.nvim_win_get_cursor(0))
  if crow - 1 ~= row or ccol < col then
    return insert, ''
  end
  local typed = (vim.api.nvim_get_current_line()):sub(col + 1, ccol)
  if insert:sub(1, #typed) == typed then
    return insert:sub(#typed + 1), typed
  end
  return insert, ''
end

local function notify(method, item, extra)
  local client = vim.lsp.get_client_by_id(item.client_id)
  if client and client.name == server.name then
    local params = { uri = vim.uri_from_bufnr(0), id = text.item_id({ command = item.command }) }
    server.notify(client, method, vim.tbl_extend('force', params, extra or {}))
  end
end

---@param how 'all'|'word'|'line'
---@return boolean
function M.accept(how)
  if how == 'all' then
    return vim.lsp.inline_completion.get()
  end
  return vim.lsp.inline_completion.get({
    on_accept = function(item)
      local rest, typed = remaining(item)
      local part = how == 'word' and text.next_word(rest) or text.next_line(rest)
      if part == '' then
        return nil
      end
      notify('hearth/suggestionAccepted', item, { acceptedLength = vim.fn.strchars(part) })
      -- Insert only `part` (after what is already typed); the command is for full accepts.
      return vim.tbl_extend('force', item, { insert_text = typed .. part, command = nil,
        range = item.range })
    end,
  })
end

function M.dismiss()
  return vim.lsp.inline_completion.get({
    on_accept = function(item)
      notify('hearth/suggestionRejected', item)
      return nil
    end,
  })
end

function M.cycle(step)
  vim.lsp.inline_completion.select({ count = step })
end

--- Whether a candidate shows in the current buffer.
function M.visible()
  local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
  if not ns then
    return false
  end
  return #vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { limit = 1 }) > 0
end

M._filter = filter

return M
