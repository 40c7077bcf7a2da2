; C#: classes, records, structs, interfaces, enums, delegates, methods, constructors,
; namespaces (block-scoped ones qualify what they contain), `const` fields, using directives.

(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(delegate_declaration name: (identifier) @name) @definition.type
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(namespace_declaration name: (identifier) @name) @definition.module
(namespace_declaration name: (qualified_name qualifier: (_) @receiver name: (identifier) @name)) @definition.module
(field_declaration
  (modifier "const")
  (variable_declaration (variable_declarator name: (identifier) @name))) @definition.constant

(using_directive (qualified_name) @import.spec) @import
(using_directive !name (identifier) @import.spec) @import
