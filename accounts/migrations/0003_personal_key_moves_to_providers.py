# PersonalKey moved to the providers app (the access service decides which key a message
# uses, and the registry may not depend on accounts). Its table stays and is renamed by
# providers 0003; here it only leaves this app's state.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='PersonalKey')],
            database_operations=[],
        ),
    ]
