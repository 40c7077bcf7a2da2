--- :HearthExplain and :HearthReview: workspace/executeCommand "hearth.explain"/"hearth.review"
--- on a range, with a workDoneToken so the server streams the text so far as $/progress.
local server = require('hearth.server')
local window = require('hearth.window')
local log = require('hearth.log')

local M = {}

local token_seq = 0

--- LSP range of lines `line1`..`line2` (1-based, inclusive) of the current buffer: whole lines.
local function line_range(bufnr, line1, line2)
  local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ''
  local client = server.client(bufnr)
  local enc = client and client.offset_encoding or 'utf-16'
  local last_col = #last
  if enc ~= 'utf-8' then
    if vim.fn.has('nvim-0.11') == 1 then
      last_col = vim.str_utfindex(last, enc)
    else
      local u32, u16 = vim.str_utfindex(last)
      last_col = enc == 'utf-16' and u16 or u32
    end
  end
  return { start = { line = line1 - 1, character = 0 }, ['end'] = { line = line2 - 1, character = last_col } }
end

--- Run `command` on lines line1..line2; `on_progress(text)` gets the text so far,
--- `on_done(err, result)` the end.
local function run(command, line1, line2, on_progress, on_done)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = server.client(bufnr)
  if not client then
    local msg = 'Hearth is not attached to this buffer (:checkhealth hearth, :HearthLog say why)'
    vim.notify(msg, vim.log.levels.WARN)
    return
  end
  token_seq = token_seq + 1
  local token = ('hearth-%s-%d'):format(command, token_seq)
  local autocmd = vim.api.nvim_create_autocmd('LspProgress', {
    callback = function(args)
      local params = args.data and args.data.params
      if params and params.token == token and params.value and params.value.message then
        on_progress(params.value.message)
      end
    end,
  })
  local params = {
    command = command,
    arguments = { { uri = vim.uri_from_bufnr(bufnr), range = line_range(bufnr, line1, line2) } },
    workDoneToken = token,
  }
  server.request(client, 'workspace/executeCommand', params, function(err, result)
    pcall(vim.api.nvim_del_autocmd, autocmd)
    if err then
      log.add('%s: %s', command, err.message or vim.inspect(err))
    end
    on_done(err, result)
  end, bufnr)
end

--- Explain lines line1..line2 in a markdown float (or split), streamed as it is written.
function M.explain(line1, line2, opts)
  local kind = opts and opts.explain.window or 'float'
  local buf
  run('hearth.explain', line1, line2, function(text)
    if buf == nil then
      buf = window.open({ title = 'Hearth: Explain', kind = kind })
    end
    window.set_text(buf, text)
  end, function(err, result)
    if err then
      vim.notify('Hearth: ' .. (err.message or 'explain failed'), vim.log.levels.ERROR)
      return
    end
    local markdown = type(result) == 'table' and result.markdown or ''
    if buf == nil then
      buf = window.open({ title = 'Hearth: Explain', kind = kind })
    end
    window.set_text(buf, markdown ~= '' and markdown or '_(the model wrote nothing)_')
  end)
end

--- Review lines line1..line2; the server publishes the findings as diagnostics (quick fixes
--- through vim.lsp.buf.code_action()).
function M.review(line1, line2, opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local last_echo = 0
  run('hearth.review', line1, line2, function(text)
    local now = vim.uv and vim.uv.now() or vim.loop.now()
    if now - last_echo > 250 then
      last_echo = now
      vim.api.nvim_echo({ { ('Hearth: reviewing… (%d characters)'):format(#text), 'Comment' } }, false, {})
    end
  end, function(err, result)
    if err then
      vim.notify('Hearth: ' .. (err.message or 'review failed'), vim.log.levels.ERROR)
      return
    end
    local findings = type(result) == 'table' and result.findings or {}
    local message = type(result) == 'table' and result.message or nil
    local summary = ('Hearth: %d finding%s'):format(#findings, #findings == 1 and '' or 's')
    if message and message ~= '' then
      summary = summary .. ' — ' .. message
    end
    vim.notify(summary, vim.log.levels.INFO)
    if opts and opts.review.loclist and vim.api.nvim_buf_is_valid(bufnr) then
      vim.diagnostic.setloclist({ open = #findings > 0 })
    end
  end)
end

return M
