-- Hearth's commands exist as soon as the plugin is on the runtimepath; nothing starts until
-- require('hearth').setup() (the server itself starts with the first file buffer).
if vim.g.loaded_hearth then
  return
end
vim.g.loaded_hearth = true

if vim.fn.has('nvim-0.10') ~= 1 then
  vim.notify_once('hearth: Neovim 0.10 or newer is needed', vim.log.levels.WARN)
  return
end

require('hearth').create_commands()
