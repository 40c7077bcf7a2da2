; Python: functions (methods by containment), classes, module-level UPPER_CASE constants,
; type aliases, imports. A string first in a body is the docstring (@doc).

(function_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?)) @definition.function

(class_definition
  name: (identifier) @name
  body: (block . (expression_statement (string) @doc)?)) @definition.class

; `X: TypeAlias = ...` before the constant pattern: the first pattern wins for a node.
(module
  (expression_statement
    (assignment
      left: (identifier) @name
      type: (type (identifier) @_alias)) @definition.type)
  (#eq? @_alias "TypeAlias"))

(type_alias_statement left: (type (identifier) @name)) @definition.type

(module
  (expression_statement
    (assignment left: (identifier) @name) @definition.constant)
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))

(import_statement
  name: [
    (dotted_name) @import.spec
    (aliased_import name: (dotted_name) @import.spec)
  ]) @import

(import_from_statement module_name: (dotted_name) @import.spec) @import
(import_from_statement module_name: (relative_import) @import.relative) @import
(import_from_statement
  name: [
    (dotted_name) @import.name
    (aliased_import name: (dotted_name) @import.name)
  ]) @import
(import_from_statement (wildcard_import) @import.name) @import
