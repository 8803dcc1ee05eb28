//go:build tools

// Package tools pins the Kubernetes commands that scripts/kube/build-tools.sh
// builds, so that `go mod tidy` keeps their dependencies in go.mod/go.sum.
// The file is never compiled (build tag "tools").
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
