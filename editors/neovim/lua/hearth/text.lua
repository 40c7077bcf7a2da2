--- Pure text helpers for suggestions: what a partial accept takes, and LSP position mapping.
--- No editor state here, so each rule is testable on its own.
local M = {}

--- The next word of `text`: leading blanks plus a run of word characters, or of punctuation.
--- At a line break, the break and the next line's indentation.
---@param text string
---@return string
function M.next_word(text)
  if text == '' then
    return ''
  end
  local nl = text:match('^\r?\n[ \t]*')
  if nl then
    return nl
  end
  return text:match('^[ \t]*[%w_\128-\255]+') or text:match('^[ \t]*[^%w_%s\128-\255]+') or text:match('^[ \t]+') or text:sub(1, 1)
end

--- The next line of `text`: up to (not including) its line break; at a line break, the break
--- and the whole next line.
---@param text string
---@return string
function M.next_line(text)
  if text == '' then
    return ''
  end
  local nl = text:match('^\r?\n')
  if nl then
    return nl .. (text:sub(#nl + 1):match('^[^\r\n]*') or '')
  end
  return text:match('^[^\r\n]*')
end

--- Byte column in `line` of an LSP `character` counted in `encoding` units.
---@param line string
---@param character integer
---@param encoding string 'utf-8'|'utf-16'|'utf-32'
---@return integer
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  if vim.fn.has('nvim-0.11') == 1 then
    local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
    return ok and col or #line
  end
  local ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  return ok and col or #line
end

--- The text a suggestion item inserts, as a string (a snippet's placeholders become plain text).
---@param insert_text string|table
---@return string
function M.plain(insert_text)
  if type(insert_text) == 'string' then
    return insert_text
  end
  local value = type(insert_text) == 'table' and insert_text.value or ''
  local ok, grammar = pcall(require, 'vim.lsp._snippet_grammar')
  if ok then
    local parsed_ok, parsed = pcall(grammar.parse, value)
    if parsed_ok then
      return tostring(parsed)
    end
  end
  return (value:gsub('%$%b{}', ''):gsub('%$%d+', ''))
end

--- The id the server gave a suggestion (in its command arguments or its data), if any.
---@param item table
---@return string|nil
function M.item_id(item)
  if type(item.data) == 'table' and item.data.id ~= nil then
    return tostring(item.data.id)
  end
  local args = item.command and item.command.arguments
  if type(args) == 'table' then
    local first = args[1]
    if type(first) == 'table' and first.id ~= nil then
      return tostring(first.id)
    elseif type(first) == 'string' or type(first) == 'number' then
      return tostring(first)
    end
  end
  return nil
end

return M
