// Starts Swagger UI on the Kenshō docs page. Kept out of the HTML so the page needs no inline
// script (its Content-Security-Policy forbids them). The spec URL comes from a data attribute.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // the public validator badge would call the internet
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
