; C++: everything c.scm has, plus classes, namespaces, `using X = ...`, methods (in class
; bodies, and out-of-class `Type::name` definitions qualified by their scope), operators,
; constructors, const/constexpr objects and static members, quoted #include.

(function_definition
  declarator: [
    (function_declarator declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
    (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name))
    (reference_declarator (function_declarator declarator: [(identifier) (field_identifier)] @name))
  ]) @definition.function

; Out-of-class definitions: `double Circle::area() const { ... }`.
(function_definition
  declarator: [
    (function_declarator declarator: (qualified_identifier
      scope: [(namespace_identifier) @receiver (type_identifier) @receiver (template_type name: (type_identifier) @receiver)]
      name: [(identifier) (operator_name) (destructor_name)] @name))
    (pointer_declarator declarator: (function_declarator declarator: (qualified_identifier
      scope: [(namespace_identifier) @receiver (type_identifier) @receiver (template_type name: (type_identifier) @receiver)]
      name: (identifier) @name)))
    (reference_declarator (function_declarator declarator: (qualified_identifier
      scope: [(namespace_identifier) @receiver (type_identifier) @receiver (template_type name: (type_identifier) @receiver)]
      name: (identifier) @name)))
  ]) @definition.method

; Declarations: prototypes, and member functions declared in a class body.
(declaration
  declarator: [
    (function_declarator declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
    (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name))
    (reference_declarator (function_declarator declarator: [(identifier) (field_identifier)] @name))
  ]) @definition.function
(field_declaration
  declarator: [
    (function_declarator declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
    (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name))
    (reference_declarator (function_declarator declarator: [(identifier) (field_identifier)] @name))
  ]) @definition.function

(class_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.enum
(namespace_definition name: (namespace_identifier) @name) @definition.module
(namespace_definition
  name: (nested_namespace_specifier (_) @receiver . (namespace_identifier) @name .)) @definition.module

(type_definition
  declarator: [
    (type_identifier) @name
    (pointer_declarator declarator: (type_identifier) @name)
    (function_declarator declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))
  ]) @definition.type
(alias_declaration name: (type_identifier) @name) @definition.type

(preproc_def name: (identifier) @name value: (_)) @definition.constant
(preproc_function_def name: (identifier) @name) @definition.function

; File- and namespace-level const/constexpr objects, and static const members.
(translation_unit
  (declaration
    (type_qualifier ["const" "constexpr"])
    declarator: (init_declarator
      declarator: [
        (identifier) @name
        (array_declarator declarator: (identifier) @name)
        (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)])
      ])) @definition.constant)
(declaration_list
  (declaration
    (type_qualifier ["const" "constexpr"])
    declarator: (init_declarator
      declarator: [
        (identifier) @name
        (array_declarator declarator: (identifier) @name)
        (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)])
      ])) @definition.constant)
(preproc_ifdef
  (declaration
    (type_qualifier ["const" "constexpr"])
    declarator: (init_declarator
      declarator: [
        (identifier) @name
        (array_declarator declarator: (identifier) @name)
        (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)])
      ])) @definition.constant)
(preproc_if
  (declaration
    (type_qualifier ["const" "constexpr"])
    declarator: (init_declarator
      declarator: [
        (identifier) @name
        (array_declarator declarator: (identifier) @name)
        (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)])
      ])) @definition.constant)
(preproc_else
  (declaration
    (type_qualifier ["const" "constexpr"])
    declarator: (init_declarator
      declarator: [
        (identifier) @name
        (array_declarator declarator: (identifier) @name)
        (pointer_declarator declarator: [(identifier) @name (array_declarator declarator: (identifier) @name)])
      ])) @definition.constant)
(field_declaration
  (storage_class_specifier "static")
  (type_qualifier ["const" "constexpr"])
  declarator: (field_identifier) @name) @definition.constant

(preproc_include path: (string_literal) @import.spec) @import
