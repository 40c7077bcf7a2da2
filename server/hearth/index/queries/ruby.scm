; Ruby: classes, modules (`A::B` names keep their scope), methods and singleton methods,
; constants; imports are require / require_relative with a literal string.

(class name: (constant) @name) @definition.class
(class name: (scope_resolution scope: (_) @receiver name: (constant) @name)) @definition.class
(module name: (constant) @name) @definition.module
(module name: (scope_resolution scope: (_) @receiver name: (constant) @name)) @definition.module
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method
(assignment left: (constant) @name) @definition.constant

(call
  method: (identifier) @_require
  arguments: (argument_list . (string . (string_content) @import.spec .) .)
  (#any-of? @_require "require" "require_relative")) @import
