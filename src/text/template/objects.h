// Runtime objects a template can hold: the `loop` of a for statement, namespace() and
// cycler(). The interpreter registers each so it can break reference cycles after a
// render (a namespace may end up holding itself).
#pragma once

#include <memory>
#include <string>

#include "text/template/value.h"

namespace citadel::jinja {

class ClearableObject : public Object {
  public:
    virtual void clear() {}
};

class LoopObject : public ClearableObject, public std::enable_shared_from_this<LoopObject> {
  public:
    explicit LoopObject(std::shared_ptr<const ValueList> items) : items_(std::move(items)) {}
    const char* type_name() const override { return "LoopContext"; }
    Value get_attr(std::string_view name) override;
    std::string repr(int depth) const override;
    void clear() override { last_changed_.reset(); }

    size_t index = 0;

  private:
    std::shared_ptr<const ValueList> items_;
    std::unique_ptr<ValueList> last_changed_;  // loop.changed() state
};

class NamespaceObject : public ClearableObject {
  public:
    explicit NamespaceObject(Dict attrs) : attrs_(std::move(attrs)) {}
    const char* type_name() const override { return "Namespace"; }
    Value get_attr(std::string_view name) override;
    bool set_attr(const std::string& name, Value value) override;
    std::string repr(int depth) const override;
    void clear() override { attrs_.entries.clear(); }

  private:
    Dict attrs_;
};

class CyclerObject : public ClearableObject, public std::enable_shared_from_this<CyclerObject> {
  public:
    explicit CyclerObject(ValueList items) : items_(std::move(items)) {}
    const char* type_name() const override { return "Cycler"; }
    Value get_attr(std::string_view name) override;

  private:
    ValueList items_;
    size_t pos_ = 0;
};

}  // namespace citadel::jinja
