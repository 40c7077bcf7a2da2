-- Test init for headless Neovim (`nvim --headless --clean -n -u init.lua`): puts the plugin on
-- the runtimepath, runs setup() with the options the test wrote, opens the test file, then runs
-- the scenario. Everything comes from HEARTH_TEST_* environment variables.
local env = vim.env
vim.opt.rtp:prepend(env.HEARTH_TEST_PLUGIN)
vim.opt.rtp:prepend(env.HEARTH_TEST_DIR)
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'I'

local H = require('hearth_test.harness')
H.result_path = env.HEARTH_TEST_RESULT
-- Never outlive the test: give up (and say so) before pytest's own timeout.
vim.defer_fn(function()
  H.fail('the scenario did not finish in time')
end, tonumber(env.HEARTH_TEST_TOTAL_TIMEOUT_MS or '100000'))

local ok, err = pcall(function()
  local opts = vim.json.decode(env.HEARTH_TEST_OPTS)
  require('hearth').setup(opts)
end)
if not ok then
  H.fail('setup: ' .. tostring(err))
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      if env.HEARTH_TEST_FILE and env.HEARTH_TEST_FILE ~= '' then
        vim.cmd.edit(env.HEARTH_TEST_FILE)
      end
      local loaded, scenario = pcall(dofile, env.HEARTH_TEST_SCENARIO)
      if not loaded then
        H.fail('scenario: ' .. tostring(scenario))
        return
      end
      H.run(tonumber(env.HEARTH_TEST_STEP_TIMEOUT_MS or '20000'))
    end)
  end,
})
