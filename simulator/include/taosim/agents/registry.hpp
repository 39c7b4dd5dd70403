// Background agent models by configuration name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "taosim/agents/agent.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

// Builds one agent of the named model; throws std::invalid_argument for an
// unknown model or a bad parameter (the message names it).
std::unique_ptr<BackgroundAgent> make_agent(const std::string& model, const AgentParams& params);
// Checks a model's parameters without building an agent.
void validate_agent_params(const std::string& model, const AgentParams& params);
std::vector<std::string> agent_models();

}  // namespace taosim
