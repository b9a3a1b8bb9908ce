package main

import (
	"context"
	"errors"
)

func migrate(ctx context.Context, args []string) error {
	return errors.New("migrate: not wired yet")
}
