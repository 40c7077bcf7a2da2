--- The plugin's own log: why a buffer was skipped, what failed. Shown by :HearthLog next to
--- the LSP log (where the server's window/logMessage lines land).
local M = {}

local lines = {} ---@type string[]
local MAX = 500

---@param fmt string
function M.add(fmt, ...)
  local ok, msg = pcall(string.format, fmt, ...)
  lines[#lines + 1] = os.date('%H:%M:%S ') .. (ok and msg or fmt)
  if #lines > MAX then
    table.remove(lines, 1)
  end
end

---@return string[]
function M.lines()
  return vim.list_slice(lines, 1, #lines)
end

return M
