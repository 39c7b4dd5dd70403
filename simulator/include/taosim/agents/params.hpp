// Agent parameters arrive from the (already validated) configuration as
// name → number pairs. ParamReader hands them to a model's own typed struct
// and refuses names the model does not know.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace taosim {

using AgentParams = std::vector<std::pair<std::string, double>>;

class ParamReader {
 public:
  ParamReader(std::string model, const AgentParams& params) : model_(std::move(model)), params_(params) {}

  // Sets `out` from the parameter `name` if given; checks lo <= value <= hi.
  template <class T>
  void read(const std::string& name, T& out, double lo, double hi) {
    known_.push_back(name);
    for (const auto& [k, v] : params_) {
      if (k != name) continue;
      if (!(v >= lo && v <= hi))
        throw std::invalid_argument(model_ + "." + name + " must be in [" + std::to_string(lo) + ", " +
                                    std::to_string(hi) + "], got " + std::to_string(v));
      out = static_cast<T>(v);
    }
  }
  // Throws for any parameter that no read() asked for.
  void done() const {
    for (const auto& [k, v] : params_) {
      bool found = false;
      for (const auto& n : known_) found = found || n == k;
      if (!found) throw std::invalid_argument(model_ + ": unknown parameter '" + k + "'");
    }
  }

 private:
  std::string model_;
  const AgentParams& params_;
  std::vector<std::string> known_;
};

}  // namespace taosim
