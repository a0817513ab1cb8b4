// Registers the supervisor and admin pages with the router (imported by web/js/main.js):
// the wallboard (#/wallboard) and the admin sections (#/admin/<section>).
import { registerPage } from "../core/router.js";
import { wallboardPage } from "./wallboard.js";
import { adminPage } from "./admin/admin.js";

registerPage(wallboardPage);
registerPage(adminPage);
