"""The small organisation most integration and web tests use."""

# username: (company, department, roles)
PEOPLE = {
    "ceo": ("HQ", "OFF", "hq_executive"),
    "auditor": ("HQ", "LEGAL", "compliance"),
    "root": ("HQ", "IT", "admin"),
    "gm": ("SZ", "ADM", "company_gm"),
    "manager": ("SZ", "CS", "dept_manager,staff"),
    "boss": ("SZ", "CS", "supervisor,staff"),
    "clerk": ("SZ", "CS", "staff"),
    "accountant": ("SZ", "FIN", "staff"),
    "keeper": ("SZ", "ADM", "custodian"),
    "outsider": ("GZ", "CS", "staff"),
}
PASSWORD = "correct horse battery staple"
