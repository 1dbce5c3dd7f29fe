"""What people read: the policy report (`report`, `templates/`, `texts.yaml`), plots and fonts, the one
number formatter and table writer (`tables`), the generated reference pages (`docs`) and the dashboard's
offline assets (`dashboard_assets`)."""
