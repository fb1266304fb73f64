"""The assessment report (考核报告): its data, its HTML template and its rendering."""
