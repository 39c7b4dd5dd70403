#include "taosim/agents/registry.hpp"

#include <stdexcept>

#include "taosim/agents/imbalance_trader.hpp"
#include "taosim/agents/initialization_agent.hpp"
#include "taosim/agents/latent_book.hpp"
#include "taosim/agents/market_maker.hpp"
#include "taosim/agents/random_trader.hpp"
#include "taosim/agents/signal_trader.hpp"
#include "taosim/agents/stylized_trader.hpp"

namespace taosim {

namespace {

struct Model {
  const char* name;
  std::unique_ptr<BackgroundAgent> (*make)(const AgentParams&);
};

template <class Agent>
std::unique_ptr<BackgroundAgent> build(const AgentParams& p) {
  return std::make_unique<Agent>(Agent::Params::from(p));
}

constexpr Model kModels[] = {
    {"imbalance_trader", &build<ImbalanceTrader>},
    {"initialization", &build<InitializationAgent>},
    {"latent_book", &build<LatentBook>},
    {"market_maker", &build<MarketMaker>},
    {"random_trader", &build<RandomTrader>},
    {"signal_trader", &build<SignalTrader>},
    {"stylized_trader", &build<StylizedTrader>},
};

const Model& find(const std::string& name) {
  for (const Model& m : kModels)
    if (name == m.name) return m;
  std::string known;
  for (const Model& m : kModels) known += std::string(known.empty() ? "" : ", ") + m.name;
  throw std::invalid_argument("unknown agent model '" + name + "' (known: " + known + ")");
}

}  // namespace

std::unique_ptr<BackgroundAgent> make_agent(const std::string& model, const AgentParams& params) {
  return find(model).make(params);
}

void validate_agent_params(const std::string& model, const AgentParams& params) { make_agent(model, params); }

std::vector<std::string> agent_models() {
  std::vector<std::string> out;
  for (const Model& m : kModels) out.emplace_back(m.name);
  return out;
}

}  // namespace taosim
