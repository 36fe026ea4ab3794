// The Helm chart's templates (helm_templates.cpp): fixed text, parameterised by values.yaml
// only, so that `helm template` with the generated values gives the raw manifests' objects.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace citadel::deploy {

// (path under templates/, content) pairs.
const std::vector<std::pair<std::string, std::string>>& helm_templates();

}  // namespace citadel::deploy
