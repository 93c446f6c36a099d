package runner

import (
	"fmt"

	"github.com/srvthreds/bootstrap/profiles"
)

// stepApplier returns the applier of a step kind (profiles.Kind*), or an
// error for a kind it does not know.
func stepApplier(kind string) (applyFunc, error) {
	switch kind {
	case profiles.KindConfigs:
		return applyConfigs, nil
	case profiles.KindPatterns:
		return applyPatterns, nil
	case profiles.KindUsers:
		return applyUsers, nil
	case profiles.KindDocuments:
		return applyDocuments, nil
	case profiles.KindRedis:
		return applyRedis, nil
	case profiles.KindHTTP:
		return applyHTTP, nil
	case profiles.KindExec:
		return applyExec, nil
	}
	return nil, fmt.Errorf("unknown step kind %q", kind)
}
