-- :HearthReview publishes its findings as diagnostics (source "hearth") on the buffer.
local H = require('hearth_test.harness')
local C = require('hearth_test.common')

C.capture_notify()
C.wait_ready()
-- Count the server's diagnostics pushes for the file (an empty list still is one).
local published = {}
local real = vim.lsp.handlers['textDocument/publishDiagnostics']
vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, params, ctx, cfg)
  if params and params.uri == vim.uri_from_fname(vim.env.HEARTH_TEST_FILE) then
    published[#published + 1] = #(params.diagnostics or {})
  end
  return real(err, params, ctx, cfg)
end
H.step('review', function()
  vim.cmd('%HearthReview')
  return true
end)
H.step('review done', function()
  for _, n in ipairs(H.result.notify) do
    if n.msg:match('^Hearth: %d+ finding') then
      H.note('summary', n.msg)
      return true
    elseif n.level == vim.log.levels.ERROR then
      error(n.msg)
    end
  end
  return false
end)
H.step('diagnostics', function()
  local diags = vim.diagnostic.get(0)
  local out = {}
  for _, d in ipairs(diags) do
    if d.source == 'hearth' then
      out[#out + 1] = { lnum = d.lnum, message = d.message, severity = d.severity }
    end
  end
  H.note('diagnostics', out)
  H.note('published', published)
  return #published > 0 and #out == published[#published]
end)
