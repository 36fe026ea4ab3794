#include "text/template/objects.h"

namespace citadel::jinja {

Value LoopObject::get_attr(std::string_view name) {
    const int64_t n = int64_t(items_->size());
    const int64_t i = int64_t(index);
    if (name == "index") return Value::integer(i + 1);
    if (name == "index0") return Value::integer(i);
    if (name == "revindex") return Value::integer(n - i);
    if (name == "revindex0") return Value::integer(n - i - 1);
    if (name == "first") return Value::boolean(i == 0);
    if (name == "last") return Value::boolean(i == n - 1);
    if (name == "length") return Value::integer(n);
    if (name == "depth") return Value::integer(1);
    if (name == "depth0") return Value::integer(0);
    if (name == "previtem") {
        return i > 0 ? (*items_)[size_t(i - 1)] : Value::undefined("there is no previous item");
    }
    if (name == "nextitem") {
        return i + 1 < n ? (*items_)[size_t(i + 1)] : Value::undefined("there is no next item");
    }
    if (name == "cycle") {
        auto self = shared_from_this();
        return Value::function("loop.cycle", [self](CallArgs& a) -> Value {
            if (a.args.empty()) raise("TypeError: no items for cycling given");
            return a.args[self->index % a.args.size()];
        });
    }
    if (name == "changed") {
        auto self = shared_from_this();
        return Value::function("loop.changed", [self](CallArgs& a) -> Value {
            const bool same = self->last_changed_ &&
                              equals(Value::list(*self->last_changed_), Value::list(a.args));
            self->last_changed_ = std::make_unique<ValueList>(a.args);
            return Value::boolean(!same);
        });
    }
    return Value::undefined("'LoopContext object' has no attribute '" + std::string(name) + "'");
}

std::string LoopObject::repr(int) const {
    return "<LoopContext " + std::to_string(index + 1) + "/" + std::to_string(items_->size()) + ">";
}

Value NamespaceObject::get_attr(std::string_view name) {
    if (const Value* v = attrs_.find(name)) return *v;
    return Value::undefined("'Namespace object' has no attribute '" + std::string(name) + "'");
}

bool NamespaceObject::set_attr(const std::string& name, Value value) {
    attrs_.set(Value::string(name), std::move(value));
    return true;
}

std::string NamespaceObject::repr(int depth) const {
    return "<Namespace " + jinja::repr(Value::dict(attrs_), depth) + ">";
}

Value CyclerObject::get_attr(std::string_view name) {
    auto self = shared_from_this();
    if (name == "current") return items_.empty() ? Value::none() : items_[pos_];
    if (name == "next") {
        return Value::function("cycler.next", [self](CallArgs&) -> Value {
            if (self->items_.empty()) return Value::none();
            Value v = self->items_[self->pos_];
            self->pos_ = (self->pos_ + 1) % self->items_.size();
            return v;
        });
    }
    if (name == "reset") {
        return Value::function("cycler.reset", [self](CallArgs&) -> Value {
            self->pos_ = 0;
            return Value::none();
        });
    }
    return Value::undefined("'Cycler object' has no attribute '" + std::string(name) + "'");
}

}  // namespace citadel::jinja
