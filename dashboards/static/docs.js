// Starts Swagger UI on /docs. A file, not an inline script, so the Content-Security-Policy needs
// no 'unsafe-inline'. Requests made with "Try it out" carry the session's CSRF token.
window.addEventListener("DOMContentLoaded", function () {
  var csrf = document.querySelector('meta[name="csrf"]').getAttribute("content");
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    requestInterceptor: function (request) {
      var method = (request.method || "GET").toUpperCase();
      if (method !== "GET" && method !== "HEAD") {
        request.headers["X-CSRF-Token"] = csrf;
      }
      return request;
    },
  });
});
