// File: subdoc/operation.cc
//
// How the operations find their place (subjson's match): Walk() follows the path from the root.
// A component of the wrong kind for its container (a name on an array, an index on an object,
// anything on a primitive) is kSubdocPathMismatch. A complete match yields the element, its key
// and position, and its parent; an incomplete one yields the deepest container that exists and
// whether it is the missing element's immediate parent. The mutations then splice text around
// those offsets exactly as subjson does (commas, the inserted key, mkdir_p's nested objects).
#include "subdoc/operation.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <variant>
#include <vector>

#include "protocol/subdoc.h"
#include "subdoc/json_scan.h"

namespace sluice::subdoc {

using protocol::McbpStatus;
using protocol::Opcode;
using protocol::SubdocPathComponent;

namespace {

constexpr size_t kNone = std::string_view::npos;
// subjson's MAX_COMPONENTS: a value may nest at most this deep below the root, counting the
// path's own levels (the root counts as one).
constexpr int kMaxComponents = 32;

struct Match {
  bool complete = false;
  Element element;           // complete: the matched value
  size_t key_begin = kNone;  // complete, in an object: the opening quote of its key
  size_t index = 0;          // complete: its position among the parent's children
  bool has_parent = false;   // false when the match is the root itself
  Element parent;            // complete: the match's parent; else the deepest container found
  size_t parent_children = 0;
  size_t missing = 0;             // incomplete: index of the first missing component
  bool immediate_parent = false;  // incomplete: only the last component is missing
};

bool KindFits(const Element& container, const SubdocPathComponent& comp) {
  if (container.type == JsonType::kObject) return std::holds_alternative<std::string>(comp);
  if (container.type == JsonType::kArray) return std::holds_alternative<int64_t>(comp);
  return false;
}

bool ChildMatches(const Child& child, const SubdocPathComponent& comp, std::string* scratch) {
  if (const auto* name = std::get_if<std::string>(&comp)) {
    if (child.key.find("\\u") == std::string_view::npos) return child.key == *name;
    return DecodeUnicodeEscapes(child.key, scratch) && *scratch == *name;
  }
  return static_cast<int64_t>(child.index) == std::get<int64_t>(comp);
}

// Finds `comp` among the children of `container`; *found is set on success.
McbpStatus FindChild(const Scanner& s, const Element& container, int level,
                     const SubdocPathComponent& comp, std::optional<Child>* found, size_t* count) {
  const bool last = std::holds_alternative<int64_t>(comp) && std::get<int64_t>(comp) == -1;
  std::string scratch;
  return s.ForEachChild(
      container, level,
      [&](const Child& child) {
        if (last) {
          *found = child;
        } else if (!found->has_value() && ChildMatches(child, comp, &scratch)) {
          *found = child;
        }
        return true;  // count them all: insertions and removals need the sibling count
      },
      count);
}

McbpStatus Walk(const Scanner& s, const Element& root,
                const std::vector<SubdocPathComponent>& comps, Match* m) {
  Element cur = root;
  int level = 1;
  if (comps.empty()) {
    m->complete = true;
    m->element = root;
    return McbpStatus::kSuccess;
  }
  for (size_t i = 0; i < comps.size(); ++i) {
    if (!KindFits(cur, comps[i])) return McbpStatus::kSubdocPathMismatch;
    std::optional<Child> child;
    size_t count = 0;
    const McbpStatus st = FindChild(s, cur, level, comps[i], &child, &count);
    if (st != McbpStatus::kSuccess) return st;
    m->has_parent = true;
    m->parent = cur;
    m->parent_children = count;
    if (!child) {
      m->missing = i;
      m->immediate_parent = i + 1 == comps.size();
      return McbpStatus::kSuccess;
    }
    if (i + 1 == comps.size()) {
      m->complete = true;
      m->element = child->value;
      m->index = child->index;
      m->key_begin = cur.type == JsonType::kObject ? child->key_begin : kNone;
      return McbpStatus::kSuccess;
    }
    cur = child->value;
    ++level;
  }
  return McbpStatus::kSuccess;
}

// The document with [begin, end) replaced by `with`.
std::string Splice(std::string_view doc, size_t begin, size_t end, std::string_view with) {
  std::string out;
  out.reserve(doc.size() - (end - begin) + with.size());
  out.append(doc.substr(0, begin));
  out.append(with);
  out.append(doc.substr(end));
  return out;
}

std::string Quoted(const std::string& name) { return "\"" + name + "\":"; }

// The state every operation starts from: the parsed path, the document's root, the match.
struct Target {
  Scanner scanner;
  std::vector<SubdocPathComponent> comps;
  Element root;
  Match match;
};

// subjson's do_mkdir_p: below the deepest existing dictionary, create the missing dictionaries
// of the path (names only) with `value` (wrapped in [] for `array`) at the end.
OpResult MkdirP(std::string_view doc, const Target& t, std::string_view value, bool array) {
  const Match& m = t.match;
  std::string text = m.parent_children > 0 ? "," : "";
  for (size_t i = m.missing; i < t.comps.size(); ++i) {
    const auto* name = std::get_if<std::string>(&t.comps[i]);
    if (name == nullptr) return {McbpStatus::kSubdocPathEnoent, {}, {}};
    if (i > m.missing) text += "{";
    text += Quoted(*name);
  }
  text += array ? "[" : "";
  text.append(value);
  text += array ? "]" : "";
  text.append(t.comps.size() - m.missing - 1, '}');
  const size_t close = m.parent.end - 1;
  return {McbpStatus::kSuccess, Splice(doc, close, close, text), {}};
}

bool LastIsIndex(const Target& t) {
  return !t.comps.empty() && std::holds_alternative<int64_t>(t.comps.back());
}

// DICT_ADD, DICT_UPSERT, REPLACE (subjson's do_store_dict).
OpResult StoreDict(Opcode op, std::string_view doc, const Target& t, std::string_view value,
                   bool mkdir_p) {
  const Match& m = t.match;
  if (op != Opcode::kSubdocReplace && LastIsIndex(t)) return {McbpStatus::kSubdocPathEinval};
  if (!m.complete) {
    if (op == Opcode::kSubdocReplace) return {McbpStatus::kSubdocPathEnoent};
    if (!m.immediate_parent) {
      return mkdir_p ? MkdirP(doc, t, value, false) : OpResult{McbpStatus::kSubdocPathEnoent};
    }
    const std::string text = (m.parent_children > 0 ? "," : "") +
                             Quoted(std::get<std::string>(t.comps.back())) + std::string(value);
    const size_t close = m.parent.end - 1;
    return {McbpStatus::kSuccess, Splice(doc, close, close, text), {}};
  }
  if (op == Opcode::kSubdocDictAdd) return {McbpStatus::kSubdocPathEexists};
  return {McbpStatus::kSuccess, Splice(doc, m.element.begin, m.element.end, value), {}};
}

// REMOVE (subjson's do_remove): the member (key included) or element, and one comma.
OpResult Remove(std::string_view doc, const Target& t) {
  const Match& m = t.match;
  if (!m.complete) return {McbpStatus::kSubdocPathEnoent};
  size_t begin = m.key_begin != kNone ? m.key_begin : m.element.begin;
  size_t end = m.element.end;
  if (m.parent_children > 1) {
    if (m.index + 1 == m.parent_children) {
      begin = doc.rfind(',', begin);  // the comma before the last member
    } else {
      end = doc.find(',', end) + 1;  // the comma after it
    }
  }
  return {McbpStatus::kSuccess, Splice(doc, begin, end, ""), {}};
}

// An array's only element, between its brackets (whitespace inside them is dropped).
OpResult InsertSingleton(std::string_view doc, const Element& array, std::string_view value) {
  return {McbpStatus::kSuccess, Splice(doc, array.begin + 1, array.end - 1, value), {}};
}

// value + "," before element `e`.
OpResult InsertBefore(std::string_view doc, const Element& e, std::string_view value) {
  return {McbpStatus::kSuccess, Splice(doc, e.begin, e.begin, std::string(value) + ","), {}};
}

// "," + value before the closing bracket of a non-empty array.
OpResult InsertLast(std::string_view doc, const Element& array, std::string_view value) {
  const size_t close = array.end - 1;
  return {McbpStatus::kSuccess, Splice(doc, close, close, "," + std::string(value)), {}};
}

OpResult Prepend(std::string_view doc, Target& t, std::string_view value, bool mkdir_p) {
  const Match& m = t.match;
  if (!m.complete)
    return mkdir_p ? MkdirP(doc, t, value, true) : OpResult{McbpStatus::kSubdocPathEnoent};
  if (m.element.type != JsonType::kArray) return {McbpStatus::kSubdocPathMismatch};
  std::optional<Child> first;
  size_t count = 0;
  const McbpStatus s = t.scanner.ForEachChild(
      m.element, 1,
      [&](const Child& c) {
        first = c;
        return false;
      },
      &count);
  if (s != McbpStatus::kSuccess) return {s};
  if (!first) return InsertSingleton(doc, m.element, value);
  return InsertBefore(doc, first->value, value);
}

// subjson's do_empty_append: ARRAY_PUSH_LAST on the root, by looking at the text's end only.
OpResult AppendToRoot(std::string_view doc, std::string_view value) {
  const size_t close = doc.find_last_not_of(" \t\n\r\f\v");
  if (close == kNone) return {McbpStatus::kSubdocDocNotJson};
  if (close == 0 || doc[close] != ']') {
    const bool bracket = doc[close] == ']' || doc[close] == '}';
    return {bracket ? McbpStatus::kSubdocPathMismatch : McbpStatus::kSubdocDocNotJson};
  }
  const size_t last = doc.find_last_not_of(" \t\n\r", close - 1);
  if (last == kNone) return {McbpStatus::kSubdocDocNotJson};
  std::string out(doc.substr(0, last + 1));
  if (doc[last] != '[' && doc[last] != ',') out.push_back(',');
  out.append(value);
  out.push_back(']');
  return {McbpStatus::kSuccess, std::move(out), {}};
}

// Whether `value` (one primitive) is among the array's elements; kSubdocPathMismatch if a
// container comes first (uniqueness is only defined over primitives).
McbpStatus FindUnique(const Scanner& s, const Element& array, std::string_view value, bool* found) {
  McbpStatus status = McbpStatus::kSuccess;
  size_t count = 0;
  const McbpStatus scan = s.ForEachChild(
      array, 1,
      [&](const Child& c) {
        if (IsContainer(c.value.type)) {
          status = McbpStatus::kSubdocPathMismatch;
          return false;
        }
        *found = s.Slice(c.value) == value;
        return !*found;
      },
      &count);
  return scan != McbpStatus::kSuccess ? scan : status;
}

OpResult Append(Opcode op, std::string_view doc, const Target& t, std::string_view value,
                bool mkdir_p) {
  const Match& m = t.match;
  if (!m.complete)
    return mkdir_p ? MkdirP(doc, t, value, true) : OpResult{McbpStatus::kSubdocPathEnoent};
  if (m.element.type != JsonType::kArray) return {McbpStatus::kSubdocPathMismatch};
  if (op == Opcode::kSubdocArrayAddUnique) {
    bool found = false;
    const McbpStatus s = FindUnique(t.scanner, m.element, value, &found);
    if (s != McbpStatus::kSuccess) return {s};
    if (found) return {McbpStatus::kSubdocPathEexists};
  }
  size_t count = 0;
  const McbpStatus s = t.scanner.ForEachChild(
      m.element, 1, [](const Child&) { return false; }, &count);
  if (s != McbpStatus::kSuccess) return {s};
  if (count == 0) return InsertSingleton(doc, m.element, value);
  return InsertLast(doc, m.element, value);
}

OpResult Insert(std::string_view doc, const Target& t, std::string_view value) {
  const Match& m = t.match;
  if (m.complete) return InsertBefore(doc, m.element, value);
  if (!m.immediate_parent) return {McbpStatus::kSubdocPathEnoent};
  const auto index = static_cast<size_t>(std::get<int64_t>(t.comps.back()));
  if (m.parent_children == 0 && index == 0) return InsertSingleton(doc, m.parent, value);
  if (index == m.parent_children) return InsertLast(doc, m.parent, value);
  return {McbpStatus::kSubdocPathEnoent};
}

// subjson's parse_int64: a non-zero int64 without leading zeros.
bool ParseDelta(std::string_view text, int64_t* delta) {
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '-') digits.remove_prefix(1);
  if (text.empty() || (!digits.empty() && digits[0] == '0')) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *delta);
  return ec == std::errc() && end == text.data() + text.size() && *delta != 0;
}

OpResult Counter(std::string_view doc, const Target& t, std::string_view value, bool mkdir_p) {
  int64_t delta = 0;
  if (!ParseDelta(value, &delta)) return {McbpStatus::kSubdocDeltaEinval};
  const Match& m = t.match;
  if (!m.complete) {
    if (!mkdir_p && !m.immediate_parent) return {McbpStatus::kSubdocPathEnoent};
    if (!m.has_parent || m.parent.type != JsonType::kObject) return {McbpStatus::kSubdocPathEnoent};
    const std::string text = std::to_string(delta);
    OpResult r = StoreDict(Opcode::kSubdocDictAdd, doc, t, text, /*mkdir_p=*/true);
    if (r.status == McbpStatus::kSuccess) r.value = text;
    return r;
  }
  if (m.element.type != JsonType::kNumber || !m.element.integer) {
    return {McbpStatus::kSubdocPathMismatch};
  }
  const std::string_view current = t.scanner.Slice(m.element);
  int64_t number = 0;
  auto [end, ec] = std::from_chars(current.data(), current.data() + current.size(), number);
  if (ec == std::errc::result_out_of_range) return {McbpStatus::kSubdocNumErange};
  if ((delta > 0 && number > std::numeric_limits<int64_t>::max() - delta) ||
      (delta < 0 && number < std::numeric_limits<int64_t>::min() - delta)) {
    // subjson's DELTA_OVERFLOW, which kv_engine answers as VALUE_CANTINSERT.
    return {McbpStatus::kSubdocValueCantinsert};
  }
  std::string text = std::to_string(number + delta);
  return {McbpStatus::kSuccess, Splice(doc, m.element.begin, m.element.end, text), text};
}

OpResult Lookup(Opcode op, const Target& t) {
  const Match& m = t.match;
  if (!m.complete) return {McbpStatus::kSubdocPathEnoent};
  if (op == Opcode::kSubdocExists) return {};
  if (op == Opcode::kSubdocGet)
    return {McbpStatus::kSuccess, {}, std::string(t.scanner.Slice(m.element))};
  size_t count = 0;
  if (!IsContainer(m.element.type)) return {McbpStatus::kSubdocPathMismatch};
  const McbpStatus s = t.scanner.ForEachChild(
      m.element, 1, [](const Child&) { return true; }, &count);
  if (s != McbpStatus::kSuccess) return {s};
  return {McbpStatus::kSuccess, {}, std::to_string(count)};
}

// The value check each mutation makes before looking at the document (subjson's validate()).
McbpStatus CheckInput(Opcode op, std::string_view value, size_t path_size) {
  // Depth left for the value: the path's levels (root included) count against the limit; a
  // dictionary key or array index the operation adds is one more.
  const int has_new_key = kMaxComponents + 1 - static_cast<int>(path_size);
  const int is_parent = kMaxComponents - static_cast<int>(path_size);
  switch (op) {
    case Opcode::kSubdocDictAdd:
    case Opcode::kSubdocDictUpsert:
    case Opcode::kSubdocReplace:
      return CheckValue(value, ValueContext::kDictValue, has_new_key);
    case Opcode::kSubdocArrayPushFirst:
    case Opcode::kSubdocArrayPushLast:
      return CheckValue(value, ValueContext::kArrayValues, is_parent);
    case Opcode::kSubdocArrayAddUnique:
      return CheckValue(value, ValueContext::kUniqueValue, is_parent);
    case Opcode::kSubdocArrayInsert:
      return CheckValue(value, ValueContext::kArrayValues, has_new_key);
    default:
      return McbpStatus::kSuccess;
  }
}

}  // namespace

OpResult Execute(Opcode op, std::string_view doc, std::string_view path, std::string_view value,
                 bool mkdir_p) {
  Target t{Scanner(doc), {}, {}, {}};
  protocol::SubdocPathParse parsed = protocol::ParseSubdocPath(path);
  if (parsed.status != McbpStatus::kSuccess) return {parsed.status};
  t.comps = std::move(parsed.components);
  const size_t path_size = t.comps.size() + 1;  // subjson counts the root as a component
  switch (op) {
    case Opcode::kSubdocDictAdd:
    case Opcode::kSubdocDictUpsert:
    case Opcode::kSubdocReplace:
    case Opcode::kSubdocDelete:
      // The root cannot be replaced, removed or given a key.
      if (t.comps.empty()) return {McbpStatus::kSubdocValueCantinsert};
      break;
    case Opcode::kSubdocArrayPushLast:
      if (t.comps.empty()) {
        const McbpStatus s = CheckInput(op, value, path_size);
        return s != McbpStatus::kSuccess ? OpResult{s} : AppendToRoot(doc, value);
      }
      break;
    default:
      break;
  }
  if (const McbpStatus s = CheckInput(op, value, path_size); s != McbpStatus::kSuccess) return {s};
  if (op == Opcode::kSubdocArrayInsert &&
      (!LastIsIndex(t) || std::get<int64_t>(t.comps.back()) < 0)) {
    return {McbpStatus::kSubdocPathEinval};
  }
  McbpStatus s = t.scanner.Root(&t.root);
  if (s == McbpStatus::kSuccess) s = Walk(t.scanner, t.root, t.comps, &t.match);
  if (s != McbpStatus::kSuccess) return {s};
  switch (op) {
    case Opcode::kSubdocGet:
    case Opcode::kSubdocExists:
    case Opcode::kSubdocGetCount:
      return Lookup(op, t);
    case Opcode::kSubdocDictAdd:
    case Opcode::kSubdocDictUpsert:
    case Opcode::kSubdocReplace:
      return StoreDict(op, doc, t, value, mkdir_p);
    case Opcode::kSubdocDelete:
      return Remove(doc, t);
    case Opcode::kSubdocArrayPushFirst:
      return Prepend(doc, t, value, mkdir_p);
    case Opcode::kSubdocArrayPushLast:
    case Opcode::kSubdocArrayAddUnique:
      return Append(op, doc, t, value, mkdir_p);
    case Opcode::kSubdocArrayInsert:
      return Insert(doc, t, value);
    case Opcode::kSubdocCounter:
      return Counter(doc, t, value, mkdir_p);
    default:
      return {McbpStatus::kEinval};
  }
}

std::string_view EmptyRootFor(Opcode op, std::string_view path) {
  const size_t first = path.find_first_not_of(" \t\n\r\f\v");
  if (first == kNone) {
    const bool array = op == Opcode::kSubdocArrayPushLast || op == Opcode::kSubdocArrayPushFirst ||
                       op == Opcode::kSubdocArrayAddUnique;
    return array ? "[]" : "";
  }
  return path[first] == '[' ? "[]" : "{}";
}

}  // namespace sluice::subdoc
