// Starts Swagger UI on the spec embedded in this wagate binary.
//
// The spec URL is relative ("../openapi.json" from /docs/), and the spec's
// servers entry is "/", so "Try it out" calls the same origin that served
// this page. validatorUrl: null keeps the UI from contacting
// validator.swagger.io; persistAuthorization keeps the API key entered under
// "Authorize" across reloads (in localStorage of this origin only).
"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("../openapi.json", window.location.href).toString(),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    filter: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
