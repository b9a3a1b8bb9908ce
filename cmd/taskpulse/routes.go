package main

import "github.com/gofiber/fiber/v2"

// routesSeen, when a test sets it, is handed the app runServer builds, so
// that the test can compare the routes served with the OpenAPI document.
var routesSeen func(*fiber.App)

func exposeRoutes(app *fiber.App) {
	if routesSeen != nil {
		routesSeen(app)
	}
}
