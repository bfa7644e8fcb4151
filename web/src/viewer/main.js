import { html } from "htm/preact";
import { render } from "preact";
import "../shared/base.css";
import "./style.css";
import { App } from "./app.js";
import { revalidate } from "./session.js";

render(html`<${App} />`, document.getElementById("app"));
revalidate();
