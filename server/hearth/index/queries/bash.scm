; Bash: functions, top-level UPPER_CASE variables (also via readonly/export/declare), and
; `source FILE` / `. FILE` with the path as written.

(function_definition name: (word) @name) @definition.function
(program
  (variable_assignment name: (variable_name) @name) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
(program
  (declaration_command (variable_assignment name: (variable_name) @name) @definition.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

(command
  name: (command_name) @_source
  .
  argument: [(word) (string) (raw_string) (concatenation)] @import.spec
  (#any-of? @_source "source" "."))@import
