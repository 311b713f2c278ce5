//go:build eg_v1_7

package main

import (
	"github.com/envoyproxy/gateway/internal/gatewayapi"
	"github.com/envoyproxy/gateway/internal/gatewayapi/resource"
	"github.com/envoyproxy/gateway/internal/ir"
	"github.com/envoyproxy/gateway/internal/xds/translator"
	"github.com/envoyproxy/gateway/internal/xds/types"
)

// Before v1.8 the translators took no context.

func loadResources(doc []byte) (*resource.Resources, error) {
	return resource.LoadResourcesFromYAMLBytes(doc, false, nil)
}

func translateGatewayAPI(t *gatewayapi.Translator, res *resource.Resources) *gatewayapi.TranslateResult {
	out, _ := t.Translate(res)
	return out
}

func translateXds(t *translator.Translator, x *ir.Xds) (*types.ResourceVersionTable, error) {
	return t.Translate(x)
}

// addListenerSets: v1.7 reads the experimental XListenerSet only, through its loader.
func addListenerSets(res *resource.Resources, docs []object) {}
